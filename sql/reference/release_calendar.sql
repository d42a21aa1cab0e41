-- The release calendar as the team keeps it (nino_assets/reference/data/release_calendar.csv, checked by
-- release/calendar.py before it is loaded): each reference quarter's release moment ($release_time, UK time),
-- pre-release access from $pre_release_access before, the announcement date and any change with its reason.
SELECT
    reference_quarter,
    CAST(release_date AS DATE) AS release_date,
    timezone('Europe/London', CAST(release_date AS DATE) + CAST($release_time AS TIME)) AS release_at,
    timezone('Europe/London', CAST(release_date AS DATE) + CAST($release_time AS TIME)) - $pre_release_access
        AS pre_release_from,
    CAST(announced_on AS DATE) AS announced_on,
    nullif(trim(change_reason), '') AS change_reason
FROM read_csv($release_calendar_csv, header = true, all_varchar = true)
ORDER BY reference_quarter
