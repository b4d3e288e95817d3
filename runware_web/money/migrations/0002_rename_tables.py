"""The ledger's tables take the money app's name (spend_charge → money_charge, …)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("money", "0001_initial"),
        ("spend", "0003_ledger_moved_to_money"),
    ]

    operations = [
        migrations.AlterModelTable(name="charge", table=None),
        migrations.AlterModelTable(name="balancereading", table=None),
    ]
