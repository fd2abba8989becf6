from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("connectors", "0013_api_2026")]

    operations = []
