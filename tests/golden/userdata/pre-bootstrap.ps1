# Example operator snippet: pin the time zone before the node joins.
Set-TimeZone -Id 'UTC'
