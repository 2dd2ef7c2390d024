"""The dashboard's page groups, one router module each."""
