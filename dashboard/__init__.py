"""The Streamlit dashboard: app.py routes, data.py caches, filters.py reads widgets, charts draws."""
