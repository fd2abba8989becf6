from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("connectors", "0012_row_key_pairs")]

    operations = []
