"""What becomes an alert (ids, suppression) and how alerts are routed to destinations."""
