-- Dated changes that break the series, in plain English for the bulletin and its charts.
SELECT
    discontinuity_id,
    CAST(start_date AS DATE) AS start_date,
    CAST(end_date AS DATE) AS end_date,
    kind,
    title,
    description,
    format('{}-Q{}', year(CAST(start_date AS DATE)), quarter(CAST(start_date AS DATE))) AS first_quarter
FROM read_csv($discontinuities_csv, header = true, all_varchar = true)
ORDER BY start_date, discontinuity_id
