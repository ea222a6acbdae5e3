"""The eventsourcing Application: commands, queries and the ports infrastructure implements."""
