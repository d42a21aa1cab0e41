-- Table 7: the nationality lookup: each nationality with the subgroup, world area and EU or non-EU group every table
-- counts it in (DWP's present-day groupings), as DWP's own lookup table lists them.
WITH nationalities AS (
    SELECT nationality.label AS nationality, subgroup.label AS subgroup, world_area.label AS world_area,
           eu_group.label AS eu_group
    FROM stat.cube_dimensions AS nationality
    JOIN stat.cube_dimensions AS subgroup ON subgroup.member_id = nationality.parent_member_id
    JOIN stat.cube_dimensions AS world_area ON world_area.member_id = subgroup.parent_member_id
    JOIN stat.cube_dimensions AS eu_group ON eu_group.member_id = world_area.parent_member_id
    WHERE nationality.dimension = 'nationality' AND nationality.level = 'country'
),
lookup_columns AS (
    SELECT * FROM (VALUES (1, 'Subgroup'), (2, 'World area'), (3, 'EU or non-EU'))
        AS lookup_columns(column_order, column_label)
)
SELECT
    nationalities.nationality AS "Nationality",
    nationalities.nationality AS row_order,
    lookup_columns.column_order,
    lookup_columns.column_label,
    CASE lookup_columns.column_label WHEN 'Subgroup' THEN nationalities.subgroup
         WHEN 'World area' THEN nationalities.world_area ELSE nationalities.eu_group END AS value
FROM nationalities
CROSS JOIN lookup_columns
