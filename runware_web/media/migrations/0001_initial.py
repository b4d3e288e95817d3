"""The media store takes over the gallery's Image model, rows and files untouched."""

import django.db.models.deletion
import django.utils.timezone
import runware_web.media.models
import uuid
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    """Admin history and permissions follow the model: its content type changes app."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ['image']:
        if not ContentType.objects.filter(app_label='media', model=model).exists():
            ContentType.objects.filter(app_label='gallery', model=model).update(app_label='media')


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ['image']:
        if not ContentType.objects.filter(app_label='gallery', model=model).exists():
            ContentType.objects.filter(app_label='media', model=model).update(app_label='gallery')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('gallery', '0002_keyset_indexes'),
        ('upstream', '0002_task_type_model_index'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The table stays where it is (the next migration renames it); only Django's idea of
        # which app owns the model changes.
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Image',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('kind', models.CharField(choices=[('generated', 'Generated'), ('upscaled', 'Upscaled'), ('background_removed', 'Background removed'), ('guide', 'ControlNet guide'), ('mask', 'Mask'), ('uploaded', 'Uploaded')], default='generated', max_length=20)),
                        ('file', models.FileField(max_length=255, upload_to=runware_web.media.models._image_path)),
                        ('thumbnail', models.FileField(blank=True, max_length=255, upload_to=runware_web.media.models._thumb_path)),
                        ('content_type', models.CharField(default='image/png', max_length=50)),
                        ('width', models.PositiveIntegerField()),
                        ('height', models.PositiveIntegerField()),
                        ('size_bytes', models.PositiveIntegerField(default=0)),
                        ('prompt', models.TextField(blank=True)),
                        ('model', models.CharField(blank=True, max_length=200)),
                        ('seed', models.BigIntegerField(blank=True, null=True)),
                        ('nsfw', models.BooleanField(blank=True, null=True)),
                        ('cost', models.DecimalField(blank=True, decimal_places=10, max_digits=18, null=True)),
                        ('runware_uuid', models.CharField(blank=True, help_text="Runware's imageUUID.", max_length=64)),
                        ('original_name', models.CharField(blank=True, max_length=255)),
                        ('favourite', models.BooleanField(default=False)),
                        ('shared_with_team', models.BooleanField(default=False)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('deleted_at', models.DateTimeField(blank=True, help_text='Set while the image is in the trash.', null=True)),
                        ('source', models.ForeignKey(blank=True, help_text='The image this one was made from (upscale, background removal…).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='derived', to='media.image')),
                        ('task', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='images', to='upstream.task')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='images', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'gallery_image',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', '-created_at', '-id'], name='image_live_recent'), models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', 'model', '-created_at', '-id'], name='image_live_model'), models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', 'kind', '-created_at', '-id'], name='image_live_kind'), models.Index(condition=models.Q(('deleted_at__isnull', True), ('favourite', True)), fields=['user', '-created_at', '-id'], name='image_live_fav'), models.Index(condition=models.Q(('deleted_at__isnull', True), ('shared_with_team', True)), fields=['-created_at', '-id'], name='image_live_shared'), models.Index(condition=models.Q(('deleted_at__isnull', False)), fields=['user', '-created_at', '-id'], name='image_trash_recent'), models.Index(condition=models.Q(('deleted_at__isnull', False)), fields=['deleted_at'], name='image_trash_expiry')],
                    },
                ),            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
