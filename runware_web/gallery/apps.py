from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "runware_web.gallery"
    verbose_name = "Gallery and history"

    def ready(self) -> None:
        from runware_web.gallery.store import mentions_image_ref, resolve_image_refs
        from runware_web.upstream.runner import register_input_resolver

        register_input_resolver(resolve_image_refs, applies=mentions_image_ref)
