-- The published bands of age at registration; `max_age` is null for the open top band.
SELECT
    age_band,
    CAST(min_age AS INTEGER) AS min_age,
    CAST(max_age AS INTEGER) AS max_age,
    CAST(sort_order AS INTEGER) AS sort_order
FROM read_csv($age_bands_csv, header = true, all_varchar = true)
ORDER BY sort_order
