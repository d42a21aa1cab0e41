-- The release calendar as the team keeps it (reference_data/release_calendar.csv, checked by release_calendar.py
-- before it is loaded): each reference quarter's release moment (09:30 UK time), pre-release access from 24 hours
-- before, the announcement date and any change with its reason.
SELECT
    reference_quarter,
    CAST(release_date AS DATE) AS release_date,
    timezone('Europe/London', CAST(release_date AS DATE) + INTERVAL 9 HOUR + INTERVAL 30 MINUTE) AS release_at,
    timezone('Europe/London', CAST(release_date AS DATE) + INTERVAL 9 HOUR + INTERVAL 30 MINUTE) - INTERVAL 24 HOUR
        AS pre_release_from,
    CAST(announced_on AS DATE) AS announced_on,
    nullif(trim(change_reason), '') AS change_reason
FROM read_csv($release_calendar_csv, header = true, all_varchar = true)
ORDER BY reference_quarter
