-- The published cube: one row per counted registration of the release's quarters, with only the published
-- dimensions (as the codes of stat.cube_dimensions) and the record key, so that any table of the published
-- dimensions can be counted and perturbed from it exactly as the published tables were. No pseudonym, no date and
-- no area finer than the local authority: nothing that identifies a person or links a row to any other record.
-- Ordered, so that the same warehouse gives the same file.
SELECT
    registration_quarter AS quarter,
    nationality,
    age_band,
    sex,
    lad_code AS local_authority,
    record_key
FROM stat.geocoded_registrations
WHERE registration_quarter BETWEEN $first_quarter AND $reference_quarter
ORDER BY quarter, nationality, age_band, sex, local_authority, record_key
