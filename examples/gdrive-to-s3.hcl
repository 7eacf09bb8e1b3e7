# Archive a Google Drive folder (or a whole shared drive) into an S3 bucket.
#
# syncer reads Drive as a service account: create one, give it a JSON key,
# and share the folder with the account's e-mail address (or add it to the
# shared drive) -- see "Creating a service account and sharing the folder
# with it" in the README. Then:
#
#   export GOOGLE_APPLICATION_CREDENTIALS=$HOME/keys/drive-archiver.json
#   export ARCHIVE_AWS_ACCESS_KEY_ID=...  ARCHIVE_AWS_SECRET_ACCESS_KEY=...
#   syncer validate -config examples/gdrive-to-s3.hcl
#   syncer plan     -config examples/gdrive-to-s3.hcl -var folder_id=1AbC...
#   syncer apply    -config examples/gdrive-to-s3.hcl -var folder_id=1AbC...
#
# What lands in the bucket: every file under the folder at the path of its
# names ("Projects/2026/plan.pdf"); Google Docs, Sheets, Slides and Drawings
# exported in the formats below, with the extension added ("Budget" ->
# "Budget.xlsx"); a second file with the same name in one folder as
# "name (dup <file id>).ext"; a "/" inside a name as "∕" (U+2215).
# Shortcuts are skipped (noted in the log) and trashed items are left out.
#
# Memory stays bounded whatever the sizes: downloads stream, each S3 upload
# holds one part, and listings go to the SQLite state, not into memory. A
# killed run resumes without copying again what it had finished.

variable "folder_id" {
  description = "The Drive folder to archive: the id at the end of its URL, https://drive.google.com/drive/folders/<id>"
  default     = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"
}

variable "archive_bucket" { default = "drive-archive" }
variable "archive_region" { default = "eu-west-1" }

state {
  path = "drive-archive.db" # relative to this file; keep it: it is what makes reruns incremental
}

limits {
  workers     = "auto" # the tuner picks 1..max_workers from the sizes to copy
  max_workers = 4
  memory      = "512MiB" # the Go memory limit; 4 workers x one 16 MiB S3 part fit easily
  # Drive enforces per-minute request quotas per project and per user:
  # pacing below them beats being throttled. 403 userRateLimitExceeded and
  # 429 are retried with backoff anyway ("Google Drive: backing off").
  requests_per_second = 10
  # bandwidth = "50MiB/s"
  # duration  = "50m"    # stop taking new work after 50 minutes (exit 130, resumable)
}

backend "gdrive" "team" {
  folder_id = var.folder_id
  # drive_id = "0AxYz..."  # for a folder in a shared drive; alone, the shared drive's root

  # A service account's JSON key. Without credentials_file syncer uses
  # application default credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud's
  # login, or the metadata server (GKE Workload Identity).
  credentials_file = env("GOOGLE_APPLICATION_CREDENTIALS")
  # subject = "archive-owner@example.com" # domain-wide delegation: act as this user

  # The export format of each kind of Google file (the key gets the extension).
  export_formats = {
    document     = "docx" # or odt, rtf, pdf, txt, html, epub, md, zip
    spreadsheet  = "xlsx" # or ods, pdf, csv (first sheet only), tsv, zip
    presentation = "pdf"  # or pptx, odp, txt, jpg, png, svg
    drawing      = "svg"  # or pdf, jpg, png
  }
  # skip_google_docs = true  # copy only files with binary content

  chunk_size  = "8MiB"  # resumable upload chunk (writes to Drive); memory per upload
  delete_mode = "trash" # when Drive is a destination: trash (recoverable) or permanent
}

backend "s3" "archive" {
  bucket            = var.archive_bucket
  region            = var.archive_region
  prefix            = "google-drive/team/" # everything goes under this prefix
  access_key_id     = env("ARCHIVE_AWS_ACCESS_KEY_ID")
  secret_access_key = env("ARCHIVE_AWS_SECRET_ACCESS_KEY")
  storage_class     = "STANDARD_IA"
  part_size         = "16MiB"
}

sync "drive-archive" {
  from    = backend.gdrive.team
  to      = backend.s3.archive
  exclude = ["tmp/**", "**/*.tmp"] # globs over the whole key
  delete  = "none"                 # an archive keeps what Drive dropped or trashed
}
