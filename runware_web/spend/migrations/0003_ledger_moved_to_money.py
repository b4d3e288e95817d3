"""The ledger (Charge) and balance readings now belong to runware_web.money; tables and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("spend", "0002_balancereading"),
        ("money", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel("Charge"), migrations.DeleteModel("BalanceReading")],
        ),
    ]
