# The configuration the CI examples run: S3 -> S3 with the state kept in a
# bucket, so that every run on a fresh runner continues the last one.
#
# Keys come from the CI's secrets, as environment variables.

state {
  backend    = backend.s3.ops # the state object and its lock live here
  key        = "syncer/media.db"
  checkpoint = "2m" # a killed runner loses at most this much
  lock_ttl   = "2m" # a lock not renewed for this long may be taken over
}

limits {
  max_workers = 2
  memory      = "1GiB"
  duration    = "55m" # below the job's 60-minute timeout: exit 130, resumable
}

backend "s3" "ops" {
  bucket            = "ops-state"
  region            = "eu-west-1"
  access_key_id     = env("OPS_AWS_ACCESS_KEY_ID")
  secret_access_key = env("OPS_AWS_SECRET_ACCESS_KEY")
}

backend "s3" "legacy" {
  bucket            = "legacy-media"
  region            = "us-east-1"
  access_key_id     = env("LEGACY_AWS_ACCESS_KEY_ID")
  secret_access_key = env("LEGACY_AWS_SECRET_ACCESS_KEY")
}

backend "s3" "archive" {
  bucket            = "media-archive"
  region            = "eu-west-1"
  access_key_id     = env("ARCHIVE_AWS_ACCESS_KEY_ID")
  secret_access_key = env("ARCHIVE_AWS_SECRET_ACCESS_KEY")
}

sync "media" {
  from    = backend.s3.legacy
  to      = backend.s3.archive
  delete  = "managed"
  compare = "checksum"
}
