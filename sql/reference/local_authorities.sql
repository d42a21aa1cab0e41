-- Local authority districts (December 2023) with their region and country, and the mid-2020 population used to
-- weight the synthetic scan. Wales, Scotland and Northern Ireland stand as their own region.
WITH districts AS (
    SELECT * FROM read_csv($local_authorities_csv, header = true, all_varchar = true)
),
populations AS (
    SELECT lad_code, CAST(population AS BIGINT) AS population_mid_2020
    FROM read_csv($la_population_csv, header = true, all_varchar = true)
)
SELECT
    districts.lad_code,
    districts.lad_name,
    districts.region_code,
    districts.region_name,
    districts.country_code,
    districts.country_name,
    populations.population_mid_2020
FROM districts
LEFT JOIN populations USING (lad_code)
ORDER BY districts.lad_code
