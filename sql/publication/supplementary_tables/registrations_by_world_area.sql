-- Table 1: registrations in each quarter of the series, in all, by world area and subgroup of nationality, and
-- for non-EU nationals together (DWP's headline split).
-- Every cell is a published (perturbed, rounded) cell; a cell with no registrations is not stored and shows 0.
WITH quarters AS (
    SELECT DISTINCT quarter FROM stat.perturbed_counts WHERE quarter <= $reference_quarter
),
nationality_columns AS (
    SELECT
        member.member_id,
        CASE member.level WHEN 'total' THEN 'All nationalities' WHEN 'subgroup' THEN parent.label || ': ' || member.label
             ELSE member.label END AS column_label,
        -- all nationalities first, then the EU's world area and its subgroups, then the non-EU total followed by
        -- each non-EU world area and its subgroups, Other / unknown last
        row_number() OVER (ORDER BY member.level <> 'total', eu_group.label = 'Other / unknown', eu_group.label,
                                    world_area.label NULLS FIRST, member.depth, member.label) AS column_order
    FROM stat.cube_dimensions AS member
    LEFT JOIN stat.cube_dimensions AS parent ON parent.member_id = member.parent_member_id
    -- the world area and the EU group a member is in (its own, at those levels)
    LEFT JOIN stat.cube_dimensions AS world_area
        ON world_area.member_id = CASE member.level WHEN 'world_area' THEN member.member_id
                                                    WHEN 'subgroup' THEN member.parent_member_id END
    LEFT JOIN stat.cube_dimensions AS eu_group
        ON eu_group.member_id = CASE member.level WHEN 'eu_group' THEN member.member_id
                                                  ELSE world_area.parent_member_id END
    WHERE member.dimension = 'nationality' AND member.level IN ('total', 'eu_group', 'world_area', 'subgroup')
      -- a group with one member of the same name (the EU's world area, Other / unknown) needs no second column
      AND NOT (member.level = 'subgroup' AND member.label = parent.label)
      AND NOT (member.level = 'eu_group' AND member.label IN (
          SELECT label FROM stat.cube_dimensions WHERE parent_member_id = member.member_id))
),
published AS (
    SELECT counts.quarter, counts.nationality_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter <= $reference_quarter AND counts.period_type = 'quarter'
      AND counts.age_level = 'total' AND counts.sex_level = 'total' AND counts.geography_level = 'total'
      AND counts.nationality_level IN ('total', 'eu_group', 'world_area', 'subgroup')
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
