"""The dashboard's pages: each ``*_page.py`` is a script ``st.navigation`` runs (``navigation.PAGES``).

A page draws in ``render()``, called when Streamlit runs the file as a page, so its
helpers can be imported (tests) without drawing.
"""
