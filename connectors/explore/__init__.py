"""Reading the collected data: which rows answer a question (`planner`), table pages,
totals, charts, the overviews, names and Export CSV."""
