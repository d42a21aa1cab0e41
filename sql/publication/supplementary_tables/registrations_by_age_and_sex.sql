-- Table 5: registrations by age band and sex, in the year to the reference quarter's quarter of each year since
-- the first full year of the series.
WITH years AS (
    SELECT DISTINCT quarter FROM stat.perturbed_counts
    WHERE quarter <= $reference_quarter AND quarter >= $first_full_year_quarter
      AND right(quarter, 1) = right($reference_quarter, 1)
),
age_rows AS (
    SELECT member_id, CASE level WHEN 'total' THEN 'All ages' ELSE label END AS age_band,
           CASE level WHEN 'total' THEN 99 ELSE depth END AS total_last, code
    FROM stat.cube_dimensions WHERE dimension = 'age'
),
sex_columns AS (
    SELECT member_id, CASE level WHEN 'total' THEN 'All' ELSE label END AS column_label,
           row_number() OVER (ORDER BY depth DESC, label) AS column_order
    FROM stat.cube_dimensions WHERE dimension = 'sex'
),
published AS (
    SELECT counts.quarter, counts.age_member, counts.sex_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter IN (SELECT quarter FROM years) AND counts.period_type = 'year_ending'
      AND counts.nationality_level = 'total' AND counts.geography_level = 'total'
)
SELECT
    'Year to the end of ' || years.quarter AS "Period",
    age_rows.age_band AS "Age band",
    format('{}|{:02d}|{}', years.quarter, age_rows.total_last, age_rows.code) AS row_order,
    sex_columns.column_order,
    sex_columns.column_label,
    coalesce(published.published_value, 0) AS value
FROM years
CROSS JOIN age_rows
CROSS JOIN sex_columns
LEFT JOIN published ON published.quarter = years.quarter AND published.age_member = age_rows.member_id
    AND published.sex_member = sex_columns.member_id
