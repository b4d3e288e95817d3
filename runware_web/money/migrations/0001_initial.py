"""Money takes over the spend app's ledger (Charge) and balance readings, rows untouched."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    """Admin history and permissions follow the model: its content type changes app."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ['charge', 'balancereading']:
        if not ContentType.objects.filter(app_label='money', model=model).exists():
            ContentType.objects.filter(app_label='spend', model=model).update(app_label='money')


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ['charge', 'balancereading']:
        if not ContentType.objects.filter(app_label='spend', model=model).exists():
            ContentType.objects.filter(app_label='money', model=model).update(app_label='spend')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('spend', '0002_balancereading'),
        ('accounts', '0001_initial'),
        ('upstream', '0002_task_type_model_index'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables stay where they are (the next migration renames them); only Django's idea of
        # which app owns the models changes.
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='BalanceReading',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('balance', models.DecimalField(decimal_places=10, max_digits=18)),
                        ('last_charge_id', models.BigIntegerField(default=0, help_text='The newest ledger row when the balance was read (0: none yet).')),
                        ('tasks_running', models.PositiveIntegerField(default=0, help_text='Tasks still running then: their costs may be in one side only.')),
                        ('is_starting_point', models.BooleanField(default=False)),
                        ('taken_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('taken_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'spend_balancereading',
                        'ordering': ['-taken_at', '-id'],
                        'get_latest_by': ['taken_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='Charge',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('task_type', models.CharField(max_length=40)),
                        ('model', models.CharField(blank=True, max_length=200)),
                        ('result_key', models.CharField(help_text='Which result of the task this is for (image UUID, index…).', max_length=100)),
                        ('amount', models.DecimalField(decimal_places=10, max_digits=18)),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ('task', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='upstream.task')),
                        ('team', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='charges', to='accounts.team')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='charges', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'spend_charge',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['user', 'created_at'], name='charge_user_time'), models.Index(fields=['team', 'created_at'], name='charge_team_time')],
                        'constraints': [models.UniqueConstraint(fields=('task', 'result_key'), name='charge_once_per_result')],
                    },
                ),            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
