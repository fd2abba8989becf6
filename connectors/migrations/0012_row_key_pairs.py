from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("connectors", "0011_coverage")]

    operations = []
