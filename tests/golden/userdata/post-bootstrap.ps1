# Example operator snippet: record the join in the event log.
Write-EventLog -LogName Application -Source 'EKS' -EventId 1 -Message 'node joined'
