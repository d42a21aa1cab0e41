-- Table 1: registrations in each quarter of the series, in all and by world area and subgroup of nationality.
-- Every cell is a published (perturbed, rounded) cell; a cell with no registrations is not stored and shows 0.
WITH quarters AS (
    SELECT DISTINCT quarter FROM stat.perturbed_counts WHERE quarter <= $reference_quarter
),
nationality_columns AS (
    SELECT
        area.member_id,
        CASE area.level WHEN 'total' THEN 'All nationalities' WHEN 'world_area' THEN area.label
             ELSE parent.label || ': ' || area.label END AS column_label,
        -- all nationalities first, then each world area followed by its subgroups, Other / unknown last
        row_number() OVER (ORDER BY area.level <> 'total',
                                    coalesce(CASE area.level WHEN 'subgroup' THEN parent.label END, area.label)
                                        = 'Other / unknown',
                                    coalesce(CASE area.level WHEN 'subgroup' THEN parent.label END, area.label),
                                    area.depth, area.label) AS column_order
    FROM stat.cube_dimensions AS area
    LEFT JOIN stat.cube_dimensions AS parent ON parent.member_id = area.parent_member_id
    WHERE area.dimension = 'nationality' AND area.level IN ('total', 'world_area', 'subgroup')
      -- a world area with one subgroup of the same name (Other / unknown) needs no second column
      AND NOT (area.level = 'subgroup' AND area.label = parent.label)
),
published AS (
    SELECT counts.quarter, counts.nationality_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter <= $reference_quarter AND counts.period_type = 'quarter'
      AND counts.age_level = 'total' AND counts.sex_level = 'total' AND counts.geography_level = 'total'
      AND counts.nationality_level IN ('total', 'world_area', 'subgroup')
)
SELECT
    quarters.quarter AS "Quarter",
    quarters.quarter AS row_order,
    nationality_columns.column_order,
    nationality_columns.column_label,
    coalesce(published.published_value, 0) AS value
FROM quarters
CROSS JOIN nationality_columns
LEFT JOIN published
    ON published.quarter = quarters.quarter AND published.nationality_member = nationality_columns.member_id
