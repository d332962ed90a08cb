"""The dashboard's pages: each module's ``render()`` draws one page from the library modules."""
