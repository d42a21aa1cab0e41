-- Table 6: registrations by world area of nationality, and of non-EU nationals together, in the year to the reference quarter's quarter of each year
-- since the first full year of the series: the annual series users quote.
WITH years AS (
    SELECT DISTINCT quarter FROM stat.perturbed_counts
    WHERE quarter <= $reference_quarter AND quarter >= $first_full_year_quarter
      AND right(quarter, 1) = right($reference_quarter, 1)
),
area_columns AS (
    SELECT area.member_id, CASE area.level WHEN 'total' THEN 'All nationalities' ELSE area.label END AS column_label,
           -- all nationalities first, then the EU, the non-EU total and each non-EU world area, Other / unknown last
           row_number() OVER (ORDER BY area.level <> 'total', eu_group.label = 'Other / unknown', eu_group.label,
                                       area.level <> 'eu_group', area.label) AS column_order
    FROM stat.cube_dimensions AS area
    LEFT JOIN stat.cube_dimensions AS eu_group
        ON eu_group.member_id = CASE area.level WHEN 'eu_group' THEN area.member_id ELSE area.parent_member_id END
    WHERE area.dimension = 'nationality' AND area.level IN ('total', 'eu_group', 'world_area')
      -- a group with one world area of the same name (the EU, Other / unknown) needs no second column
      AND NOT (area.level = 'eu_group' AND area.label IN (
          SELECT label FROM stat.cube_dimensions WHERE parent_member_id = area.member_id))
),
published AS (
    SELECT counts.quarter, counts.nationality_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter IN (SELECT quarter FROM years) AND counts.period_type = 'year_ending'
      AND counts.age_level = 'total' AND counts.sex_level = 'total' AND counts.geography_level = 'total'
      AND counts.nationality_level IN ('total', 'eu_group', 'world_area')
)
SELECT
    'Year to the end of ' || years.quarter AS "Period",
    years.quarter AS row_order,
    area_columns.column_order,
    area_columns.column_label,
    coalesce(published.published_value, 0) AS value
FROM years
CROSS JOIN area_columns
LEFT JOIN published
    ON published.quarter = years.quarter AND published.nationality_member = area_columns.member_id
