-- The published dimensions of the cube and their hierarchies: one row per member of every level, with its parent.
-- Counts refer to members by `member_id`, so that the cube's cells carry small integers rather than labels.
WITH nationality_members AS (
    SELECT 'nationality' AS dimension, 'total' AS level, 'Total' AS code, 'Total' AS label, NULL AS parent_code, 0 AS depth
    UNION ALL
    SELECT DISTINCT 'nationality', 'eu_group', eu_group, eu_group, 'Total', 1 FROM reference.nationalities
    UNION ALL
    SELECT DISTINCT 'nationality', 'world_area', world_area, world_area, eu_group, 2 FROM reference.nationalities
    UNION ALL
    SELECT DISTINCT 'nationality', 'subgroup', subgroup, subgroup, world_area, 3 FROM reference.nationalities
    UNION ALL
    SELECT DISTINCT 'nationality', 'country', nationality, nationality, subgroup, 4 FROM reference.nationalities
),
age_members AS (
    SELECT 'age', 'total', 'Total', 'Total', NULL, 0
    UNION ALL
    SELECT 'age', 'band', age_band, age_band, 'Total', 1 FROM reference.age_bands
),
sex_members AS (
    SELECT 'sex', 'total', 'Total', 'Total', NULL, 0
    UNION ALL
    SELECT 'sex', 'sex', code, label, 'Total', 1 FROM (VALUES ('F', 'Female'), ('M', 'Male')) AS sexes(code, label)
),
areas_outside_the_uk AS (
    SELECT * FROM (VALUES ($overseas_code, $overseas_label), ($unknown_code, $unknown_label)) AS areas(code, label)
),
geography_members AS (
    SELECT 'geography', 'total', 'Total', 'Total', NULL, 0
    UNION ALL
    SELECT DISTINCT 'geography', 'country', country_code, country_name, 'Total', 1 FROM reference.local_authorities
    UNION ALL
    SELECT 'geography', 'country', code, label, 'Total', 1 FROM areas_outside_the_uk
    UNION ALL
    SELECT DISTINCT 'geography', 'region', region_code, region_name, country_code, 2 FROM reference.local_authorities
    UNION ALL
    SELECT 'geography', 'region', code, label, code, 2 FROM areas_outside_the_uk
    UNION ALL
    SELECT 'geography', 'local_authority', lad_code, lad_name, region_code, 3 FROM reference.local_authorities
    UNION ALL
    SELECT 'geography', 'local_authority', code, label, code, 3 FROM areas_outside_the_uk
),
members AS (
    SELECT * FROM nationality_members
    UNION ALL SELECT * FROM age_members
    UNION ALL SELECT * FROM sex_members
    UNION ALL SELECT * FROM geography_members
),
numbered AS (
    SELECT
        CAST(row_number() OVER (ORDER BY dimension, depth, code) AS INTEGER) AS member_id,
        dimension,
        level,
        code,
        label,
        parent_code,
        depth
    FROM members
)
SELECT
    child.member_id,
    child.dimension,
    child.level,
    child.code,
    child.label,
    parent.member_id AS parent_member_id,
    child.depth
FROM numbered AS child
LEFT JOIN numbered AS parent
    ON parent.dimension = child.dimension AND parent.depth = child.depth - 1 AND parent.code = child.parent_code
ORDER BY child.member_id
