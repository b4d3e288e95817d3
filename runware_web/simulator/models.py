"""The simulator keeps no database state."""
