# The migration syncer was written for: copy a legacy media bucket that lives
# in one AWS account into an archive bucket in another account.
#
# The two accounts share no credentials, so nothing can be copied
# server-side: syncer streams each object from the legacy bucket into an
# upload to the archive (multipart above part_size, each part read with a
# ranged GET), and never holds an object in memory. Memory is bounded by the
# limits below, whatever the size or the number of objects; a killed run
# resumes, large uploads from their last finished part.
#
#   export LEGACY_AWS_ACCESS_KEY_ID=...  LEGACY_AWS_SECRET_ACCESS_KEY=...
#   export ARCHIVE_AWS_ACCESS_KEY_ID=... ARCHIVE_AWS_SECRET_ACCESS_KEY=...
#   syncer plan  -config examples/s3-to-s3-cross-account.hcl
#   syncer apply -config examples/s3-to-s3-cross-account.hcl
#
# To try it without AWS, start the local test servers (two "accounts" with
# different keys on 127.0.0.1:7070 and :7071, buckets already made):
#
#   scripts/s3-server.sh install && scripts/s3-server.sh start /tmp/s3 && . /tmp/s3/env
#   export LEGACY_AWS_ACCESS_KEY_ID=$SYNCER_S3_KEY    LEGACY_AWS_SECRET_ACCESS_KEY=$SYNCER_S3_SECRET
#   export ARCHIVE_AWS_ACCESS_KEY_ID=$SYNCER_S3_KEY_B ARCHIVE_AWS_SECRET_ACCESS_KEY=$SYNCER_S3_SECRET_B
#   syncer apply -config examples/s3-to-s3-cross-account.hcl \
#     -var legacy_endpoint=$SYNCER_S3_ENDPOINT -var archive_endpoint=$SYNCER_S3_ENDPOINT_B \
#     -var legacy_region=us-east-1 -var archive_region=us-east-1 -var archive_storage_class=STANDARD
#
# Keys never go in this file: env() reads them when the file is loaded (an
# unset variable is an error), and syncer never prints or stores them.

variable "legacy_bucket" { default = "legacy-media" }
variable "legacy_region" { default = "us-east-1" }
variable "legacy_endpoint" {
  description = "S3-compatible endpoint of the legacy store; empty for AWS"
  default     = ""
}

variable "archive_bucket" { default = "media-archive" }
variable "archive_region" { default = "eu-west-1" }
variable "archive_endpoint" {
  description = "S3-compatible endpoint of the archive; empty for AWS"
  default     = ""
}
variable "archive_storage_class" { default = "STANDARD_IA" }

variable "state_path" {
  description = "The SQLite state; in Kubernetes, put it on a persistent volume so a restarted Job resumes"
  default     = "media-migration.db"
}

state {
  path = var.state_path
}

limits {
  workers     = "auto"    # the tuner picks 1..max_workers from the sizes to copy
  max_workers = 4         # granted only where memory covers 4 x (part_size + 1 MiB)
  memory      = "1800MiB" # the Go memory limit: stay well inside a 2Gi pod limit
  bandwidth   = "200MiB/s"
  max_delete  = 100 # refuse a plan that would delete more than this
  # duration  = "50m"     # stop taking new work after 50 minutes (exit 130, resumable)
}

# Account 1: read-only access is enough.
backend "s3" "legacy" {
  bucket            = var.legacy_bucket
  region            = var.legacy_region
  endpoint          = var.legacy_endpoint
  force_path_style  = var.legacy_endpoint != ""
  access_key_id     = env("LEGACY_AWS_ACCESS_KEY_ID")
  secret_access_key = env("LEGACY_AWS_SECRET_ACCESS_KEY")
  # Instead of static keys: profile = "legacy-account" (from ~/.aws/config),
  # or nothing at all for the default chain (environment, web identity of a
  # Kubernetes service account, instance metadata).

  # Objects in GLACIER or DEEP_ARCHIVE cannot be read before a restore.
  # "skip" (the default) shows them apart in the plan and copies the rest;
  # "fail" makes each a failure (exit 3); "restore" has apply ask S3 to
  # restore each one, once, and a later apply copies it (restoring needs
  # s3:RestoreObject on this bucket, and costs a retrieval fee).
  archived     = "restore"
  restore_days = 7      # how long each restored copy stays readable
  restore_tier = "Bulk" # Bulk | Standard | Expedited: cheaper is slower
}

# Account 2: writes the archive.
backend "s3" "archive" {
  bucket            = var.archive_bucket
  region            = var.archive_region
  endpoint          = var.archive_endpoint
  force_path_style  = var.archive_endpoint != ""
  access_key_id     = env("ARCHIVE_AWS_ACCESS_KEY_ID")
  secret_access_key = env("ARCHIVE_AWS_SECRET_ACCESS_KEY")
  # Or assume a role in the archive account with the credentials above:
  # role_arn    = "arn:aws:iam::222222222222:role/syncer-writer"
  # external_id = "media-migration"
  storage_class = var.archive_storage_class
  # sse         = "aws:kms"
  part_size = "64MiB" # objects above it go multipart; it grows for objects over 640 GiB
  # "auto" copies server-side only when one set of credentials reaches both
  # buckets; across accounts it streams, and says so in the log.
  server_side_copy = "auto"
}

sync "media" {
  from    = backend.s3.legacy
  to      = backend.s3.archive
  prefix  = "photos/" # only keys under photos/, kept as they are
  include = ["**/*.jpg"]
  exclude = ["photos/tmp/**"] # globs match the whole key
  delete  = "managed"         # delete from the archive only what syncer wrote and the legacy bucket dropped
  compare = "checksum"        # MD5 where the stores know it, and verify what was written

  # Headers, user metadata and tags travel with each object; these override
  # or drop some on the way (header names; not part of the plan's diff).
  metadata {
    set  = { "cache-control" = "public, max-age=86400" }
    drop = ["x-amz-meta-internal-id"]
  }
}
