-- Registrations: the scan's records under the statistical definitions, pseudonymised.
-- Every raw record of the run's quarters comes out once, with `exclusion_reason` null when it is counted. A person is
-- counted once: at their first registration that meets the definitions (earliest scan, then date, then record id);
-- any other registration of the same NINo is a duplicate, including one already counted from an earlier scan.
-- Records dated in an earlier quarter than their scan are late registrations: counted in their scan's quarter, the
-- quarter in which they reached the NINo system's records, so that a quarter once published never changes.
-- Unknowns are counted, as DWP counts them: a nationality code not recognised under "Other / unknown", a date of
-- birth missing or impossible under age "Unknown". Under-16s are excluded only when their age is known.
-- The adult age is the first age band's youngest age (reference.age_bands).
-- The NINo is replaced by its pseudonym, the first $pseudonym_hex_digits hex digits of its HMAC as one unsigned
-- number (compared and stored as cheaply as a key); the record key is read from the HMAC's next hex digits. The date
-- of birth is used for the age and not carried on.
WITH scan_records AS (
    SELECT *
    FROM raw.raw_scan
    WHERE scan_quarter = ANY($quarters)
),
scan_quarter_bounds AS (
    -- each quarter's first day ($quarter_starts): joined once a quarter, not derived from the label once a record
    SELECT quarter AS scan_quarter, quarter_start FROM (SELECT unnest($quarter_starts, recursive := true))
),
unknown_nationality AS (
    SELECT * FROM reference.nationalities WHERE iso_alpha3 IS NULL
),
band_of_age AS (
    -- each age that can be counted with its band, and no age (-1) with the band of unknown age: millions of records
    -- then find their band by an equi-join rather than by a range join
    SELECT coalesce(ages.age, -1) AS age_key, age_bands.age_band
    FROM reference.age_bands
    LEFT JOIN range(0, $oldest_age + 1) AS ages(age)
        ON ages.age BETWEEN age_bands.min_age AND coalesce(age_bands.max_age, $oldest_age)
    WHERE ages.age IS NOT NULL OR age_bands.min_age IS NULL
),
records_with_attributes AS NOT MATERIALIZED (
    -- this and records_with_age are read once each: not stored, only records_under_definitions is
    SELECT
        scan_records.scan_quarter,
        scan_records.line_number,
        scan_records.record_id,
        scan_records.registration_date,
        scan_records.arrival_date,
        scan_records.sex,
        scan_records.nationality AS nationality_code,
        regexp_full_match(coalesce(scan_records.nino, ''), $nino_regex) AS nino_is_valid,
        sha256($hmac_outer_key || unhex(sha256($hmac_inner_key || CAST(scan_records.nino AS BLOB)))) AS nino_hmac,
        -- completed years on the registration date, by comparing (month, day) as month * 100 + day; someone born
        -- on 29 February turns a year older on 1 March
        year(scan_records.registration_date) - year(scan_records.date_of_birth)
            - CASE WHEN month(scan_records.registration_date) * 100 + day(scan_records.registration_date)
                        < month(scan_records.date_of_birth) * 100 + day(scan_records.date_of_birth)
                   THEN 1 ELSE 0 END AS age_from_date_of_birth,
        scan_records.registration_date < bounds.quarter_start AS is_late_registration,
        scan_records.registration_date >= bounds.quarter_start + INTERVAL 3 MONTH AS is_after_scan_quarter,
        coalesce(nationalities.is_uk, false) AS is_uk_national,
        coalesce(nationalities.nationality, unknown_nationality.nationality) AS nationality,
        coalesce(nationalities.subgroup, unknown_nationality.subgroup) AS subgroup,
        coalesce(nationalities.world_area, unknown_nationality.world_area) AS world_area,
        coalesce(
            nationalities.eu_accession_date <= scan_records.registration_date
            AND (nationalities.eu_exit_date IS NULL OR scan_records.registration_date <= nationalities.eu_exit_date),
            false
        ) AS eu_member_at_registration
    FROM scan_records
    JOIN scan_quarter_bounds AS bounds USING (scan_quarter)
    LEFT JOIN reference.nationalities ON nationalities.iso_alpha3 = scan_records.nationality
    CROSS JOIN unknown_nationality
),
records_with_age AS NOT MATERIALIZED (
    SELECT
        * EXCLUDE (age_from_date_of_birth, nino_hmac),
        CAST('0x' || left(nino_hmac, $pseudonym_hex_digits) AS UHUGEINT) AS pseudonym,
        -- the record key: the HMAC's hex digits after the pseudonym's, so none of its bits is stored in the pseudonym
        CAST('0x' || substr(nino_hmac, $record_key_first_hex_digit + 1, $record_key_hex_digits) AS BIGINT)
            % $record_key_range AS record_key,
        -- a date of birth after the registration, or over $oldest_age years before it, gives no age: "Unknown"
        CASE WHEN age_from_date_of_birth BETWEEN 0 AND $oldest_age THEN age_from_date_of_birth END AS age
    FROM records_with_attributes
),
records_under_definitions AS MATERIALIZED (
    -- read three times (the history, the duplicates, the output): the hashes are computed once
    SELECT
        *,
        CASE
            WHEN NOT nino_is_valid THEN 'NINo malformed'
            WHEN is_uk_national THEN 'UK national'
            WHEN sex IS NULL OR sex NOT IN ('F', 'M') THEN 'sex not recorded as F or M'
            WHEN age < $adult_age THEN format('aged under {} at registration', $adult_age)
            WHEN is_after_scan_quarter THEN 'registration dated after the scan''s quarter'
            WHEN registration_date < $series_start THEN 'registration dated before the series starts'
        END AS definition_exclusion
    FROM records_with_age
),
already_counted AS (
    -- only this run's people are looked up in the history: a semi-join built on the run's pseudonyms, not a
    -- distinct set of every earlier registration
    SELECT DISTINCT pseudonym
    FROM stat.registrations
    WHERE scan_quarter < $first_quarter
      AND pseudonym IN (SELECT pseudonym FROM records_under_definitions WHERE definition_exclusion IS NULL)
),
first_registrations AS (
    -- whether each record that meets the definitions is a duplicate: only the keys go through the window
    SELECT
        records.scan_quarter,
        records.line_number,
        already_counted.pseudonym IS NOT NULL
            OR row_number() OVER (
                PARTITION BY records.pseudonym
                ORDER BY records.scan_quarter, records.registration_date, records.record_id, records.line_number
            ) > 1 AS is_duplicate
    FROM records_under_definitions AS records
    LEFT JOIN already_counted USING (pseudonym)
    WHERE records.definition_exclusion IS NULL
)
SELECT
    records.scan_quarter,
    records.line_number,
    records.pseudonym,
    records.record_key,
    records.registration_date,
    records.scan_quarter AS registration_quarter,
    records.is_late_registration,
    records.arrival_date,
    records.age,
    band_of_age.age_band,
    records.sex,
    records.nationality_code,
    records.nationality,
    records.subgroup,
    records.world_area,
    records.eu_member_at_registration,
    coalesce(
        records.definition_exclusion,
        CASE WHEN first_registrations.is_duplicate THEN 'duplicate: NINo already registered' END
    ) AS exclusion_reason
FROM records_under_definitions AS records
LEFT JOIN first_registrations USING (scan_quarter, line_number)
LEFT JOIN band_of_age ON band_of_age.age_key = coalesce(records.age, -1)
