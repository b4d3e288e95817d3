"""Tool runs' and captions' sources are the media store's Image now (the columns are unchanged)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0001_initial'),
        ('tools', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='textresult',
                    name='source',
                    field=models.ForeignKey(blank=True, help_text='The image a caption describes.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='text_results', to='media.image'),
                ),
                migrations.AlterField(
                    model_name='toolrun',
                    name='source',
                    field=models.ForeignKey(blank=True, help_text='The image the tool ran on (none for prompt enhancement).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tool_runs', to='media.image'),
                ),            ],
        ),
    ]
