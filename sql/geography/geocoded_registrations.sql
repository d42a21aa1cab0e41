-- Geocoded registrations: where each counted registration is placed, its output area, local authority, region and
-- country, by its postcode at registration, read from the raw layer here and carried no further. Keyed as in
-- stat.registrations, which holds what the registration is counted by. Postcodes are matched in upper case without
-- spaces. An address abroad is "Overseas registration"; a postcode that is missing, not of the UK form, or not in
-- the lookup goes to the explicit "Unknown" area. Both count in the totals.
WITH registrations_in_run AS (
    SELECT scan_quarter, line_number
    FROM stat.registrations
    WHERE scan_quarter = ANY($quarters)
),
postcodes AS (
    SELECT
        raw_scan.scan_quarter,
        raw_scan.line_number,
        upper(replace(raw_scan.postcode, ' ', '')) AS postcode_key
    FROM raw.raw_scan
    WHERE raw_scan.scan_quarter = ANY($quarters)
),
lookup_of_uk_form AS (
    -- a postcode found here is of the UK form: the form is then tested only on the few postcodes not found
    SELECT * FROM reference.postcode_lookup WHERE regexp_full_match(postcode_key, $uk_postcode_regex)
),
matched AS (
    SELECT
        registrations_in_run.*,
        CASE
            WHEN postcodes.postcode_key IS NULL OR postcodes.postcode_key = '' THEN 'postcode missing'
            WHEN postcodes.postcode_key = 'OVERSEAS' THEN 'overseas address'
            WHEN lookup_of_uk_form.postcode_key IS NOT NULL THEN 'geocoded'
            WHEN NOT regexp_full_match(postcodes.postcode_key, $uk_postcode_regex) THEN 'postcode malformed'
            ELSE 'postcode not in lookup'
        END AS geocoding_outcome,
        lookup_of_uk_form.output_area_code,
        lookup_of_uk_form.lad_code,
        lookup_of_uk_form.region_code,
        lookup_of_uk_form.country_code
    FROM registrations_in_run
    JOIN postcodes USING (scan_quarter, line_number)
    LEFT JOIN lookup_of_uk_form ON lookup_of_uk_form.postcode_key = postcodes.postcode_key
)
SELECT
    * EXCLUDE (output_area_code, lad_code, region_code, country_code),
    CASE geocoding_outcome WHEN 'geocoded' THEN output_area_code
         WHEN 'overseas address' THEN $overseas_code ELSE $unknown_code END AS output_area_code,
    CASE geocoding_outcome WHEN 'geocoded' THEN lad_code
         WHEN 'overseas address' THEN $overseas_code ELSE $unknown_code END AS lad_code,
    CASE geocoding_outcome WHEN 'geocoded' THEN region_code
         WHEN 'overseas address' THEN $overseas_code ELSE $unknown_code END AS region_code,
    CASE geocoding_outcome WHEN 'geocoded' THEN country_code
         WHEN 'overseas address' THEN $overseas_code ELSE $unknown_code END AS country_code
FROM matched
