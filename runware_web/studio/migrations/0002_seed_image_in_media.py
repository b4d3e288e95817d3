"""A generation's seed image is the media store's Image now (the column is unchanged)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0001_initial'),
        ('studio', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='generation',
                    name='seed_image',
                    field=models.ForeignKey(blank=True, help_text='The input image of an image-to-image, inpainting or outpainting run.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='media.image'),
                ),            ],
        ),
    ]
