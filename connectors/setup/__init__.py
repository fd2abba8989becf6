"""Setting up: connectors and tasks (views, forms, services with the key check,
selectors), the catalogue of connector types, the key's encryption, settings, the demo."""
