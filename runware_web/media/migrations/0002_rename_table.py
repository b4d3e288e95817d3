"""The image table takes the media app's name (gallery_image → media_image)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("media", "0001_initial"),
        ("gallery", "0003_image_moved_to_media"),
    ]

    operations = [
        migrations.AlterModelTable(name="image", table=None),
    ]
