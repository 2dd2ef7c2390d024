"""The dashboard's page groups: each module builds one router from a ``Site``."""
