"""The numbered revisions, oldest first: ``0001_domain`` …"""
