"""What each stored file is (image, video, audio, 3D model): every existing row is an image."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0003_pending_result'),
    ]

    operations = [
        migrations.AddField(
            model_name='image',
            name='media_type',
            field=models.CharField(choices=[('image', 'Image'), ('video', 'Video'), ('audio', 'Audio'), ('3d', '3D model')], default='image', max_length=10),
        ),
        migrations.AddField(
            model_name='image',
            name='duration',
            field=models.FloatField(blank=True, help_text='Seconds, for a video or audio clip.', null=True),
        ),
    ]
