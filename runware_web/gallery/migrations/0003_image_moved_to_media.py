"""The Image model now belongs to the media store (runware_web.media); its table and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0002_keyset_indexes"),
        ("media", "0001_initial"),
        ("studio", "0002_seed_image_in_media"),
        ("tools", "0002_sources_in_media"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[migrations.DeleteModel("Image")]),
    ]
