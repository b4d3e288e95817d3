"""The audit log in Django's admin: to read, never to add, edit or delete (it is append-only)."""

from django.contrib import admin

from runware_web.accounts.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "target", "before", "after", "team_name", "address")
    list_filter = ("action",)
    search_fields = ("actor_name", "target", "team_name", "address")
    date_hierarchy = "at"
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
