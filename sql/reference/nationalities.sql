-- Nationalities: every ISO 3166-1 country with DWP's present-day grouping (country -> subgroup -> world area ->
-- EU or non-EU, DWP's headline split) and
-- its EU accession and exit dates, plus DWP's "Other / unknown" (iso_alpha3 null): the item, at every level, of a
-- nationality code not recognised and of a country DWP does not group. The grouping is applied to the whole series; membership at
-- the date of registration is derived from the dates, never from the grouping.
WITH other_or_unknown AS (
    SELECT 'Other / unknown' AS label
),
countries AS (
    SELECT * FROM read_csv($countries_csv, header = true, all_varchar = true)
),
dwp_groups AS (
    SELECT * FROM read_csv($dwp_groups_csv, header = true, all_varchar = true)
),
overrides AS (
    SELECT * FROM read_csv($overrides_csv, header = true, all_varchar = true)
),
countries_with_dwp_label AS (
    SELECT
        countries.iso_alpha3,
        countries.iso_alpha2,
        countries.country_name,
        coalesce(countries.dwp_nationality, overrides.dwp_nationality) AS dwp_nationality,
        CAST(countries.eu_accession_date AS DATE) AS eu_accession_date,
        CAST(countries.eu_exit_date AS DATE) AS eu_exit_date
    FROM countries
    LEFT JOIN overrides USING (iso_alpha3)
),
grouped AS (
    SELECT
        labelled.iso_alpha3,
        labelled.iso_alpha2,
        labelled.country_name,
        -- DWP's classification lists "Unknown" as a nationality of its own: the same item
        coalesce(nullif(labelled.dwp_nationality, 'Unknown'), other_or_unknown.label) AS nationality,
        CASE dwp_groups.sub_region
            WHEN 'European Union EU15' THEN 'EU14'
            WHEN 'European Union EU8' THEN 'EU8'
            WHEN 'European Union EU2' THEN 'EU2'
            WHEN 'European Union Other' THEN 'EU Other'
            ELSE coalesce(dwp_groups.sub_region, other_or_unknown.label)
        END AS subgroup,
        coalesce(dwp_groups.world_region, other_or_unknown.label) AS world_area,
        -- DWP's headline split: the European Union's world area, and every other known world area as non-EU
        CASE coalesce(dwp_groups.world_region, other_or_unknown.label)
            WHEN 'European Union' THEN 'European Union'
            WHEN other_or_unknown.label THEN other_or_unknown.label
            ELSE 'Non-EU'
        END AS eu_group,
        labelled.eu_accession_date,
        labelled.eu_exit_date,
        labelled.iso_alpha3 = 'GBR' AS is_uk
    FROM countries_with_dwp_label AS labelled
    LEFT JOIN dwp_groups ON dwp_groups.nationality = labelled.dwp_nationality
    CROSS JOIN other_or_unknown
)
SELECT * FROM grouped
UNION ALL
SELECT NULL, NULL, label, label, label, label, label, NULL, NULL, false FROM other_or_unknown
ORDER BY iso_alpha3 NULLS LAST
