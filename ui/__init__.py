"""The Streamlit app: chat, graph explorer, timeline analytics and memory admin
(``persona ui`` runs ``ui/app.py``). Clients are built once per server process
(:mod:`ui.clients`) and passed to the pages; user text is escaped before it is shown."""
