-- Table 7: the nationality lookup: each nationality with the subgroup and the world area every table counts it in
-- (DWP's present-day groupings), as DWP's own lookup table lists them.
WITH nationalities AS (
    SELECT nationality.label AS nationality, subgroup.label AS subgroup, world_area.label AS world_area
    FROM stat.cube_dimensions AS nationality
    JOIN stat.cube_dimensions AS subgroup ON subgroup.member_id = nationality.parent_member_id
    JOIN stat.cube_dimensions AS world_area ON world_area.member_id = subgroup.parent_member_id
    WHERE nationality.dimension = 'nationality' AND nationality.level = 'country'
),
lookup_columns AS (
    SELECT * FROM (VALUES (1, 'Subgroup'), (2, 'World area')) AS lookup_columns(column_order, column_label)
)
SELECT
    nationalities.nationality AS "Nationality",
    nationalities.nationality AS row_order,
    lookup_columns.column_order,
    lookup_columns.column_label,
    CASE lookup_columns.column_label WHEN 'Subgroup' THEN nationalities.subgroup
         ELSE nationalities.world_area END AS value
FROM nationalities
CROSS JOIN lookup_columns
