"""Results billed but not stored yet (the disk was full), kept until a worker stores them."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0002_rename_table'),
        ('upstream', '0002_task_type_model_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='PendingResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('result_key', models.CharField(help_text='Which output of the task (as the ledger names it).', max_length=64)),
                ('item', models.JSONField(help_text='The result as Runware sent it: its URL (or bytes), seed, cost…')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('claimed_by', models.CharField(blank=True, help_text='The worker storing it right now.', max_length=64)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.CharField(blank=True, max_length=200)),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='pending_results', to='upstream.task')),
            ],
            options={
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(fields=['next_attempt_at'], name='pending_result_due')],
                'constraints': [models.UniqueConstraint(fields=('task', 'result_key'), name='pending_result_once')],
            },
        ),
    ]
