#!/bin/sh
# Prepares MinIO for pairsyncd; idempotent (safe to run on every start).
# Run by the minio-init service of docker-compose.yml (image minio/mc), and
# usable as is against any MinIO (e.g. an operator's tenant) with:
#   MINIO_URL  MINIO_ROOT_USER  MINIO_ROOT_PASSWORD  MINIO_BUCKET
#   MINIO_APP_ACCESS_KEY  MINIO_APP_SECRET_KEY
#
# 1. creates the photo bucket (private: no anonymous access);
# 2. creates the policy pairsync-photos-<bucket>: read and write of that bucket
#    only (objects, multipart uploads; no bucket creation or deletion, no
#    other bucket, no administration);
# 3. creates (or updates the secret of) the user whose keys pairsyncd uses,
#    and attaches the policy to it.
set -eu

: "${MINIO_URL:=http://minio:9000}"
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${MINIO_BUCKET:?}"
: "${MINIO_APP_ACCESS_KEY:?}" "${MINIO_APP_SECRET_KEY:?}"
policy="pairsync-photos-$MINIO_BUCKET"

mc alias set target "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "target/$MINIO_BUCKET"
mc anonymous set none "target/$MINIO_BUCKET"

file="/tmp/$policy.json"
cat >"$file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "s3:GetBucketLocation",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads"
      ],
      "Resource": ["arn:aws:s3:::$MINIO_BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts"
      ],
      "Resource": ["arn:aws:s3:::$MINIO_BUCKET/*"]
    }
  ]
}
JSON
mc admin policy create target "$policy" "$file"
rm -f "$file"

mc admin user add target "$MINIO_APP_ACCESS_KEY" "$MINIO_APP_SECRET_KEY"
if ! out="$(mc admin policy attach target "$policy" --user "$MINIO_APP_ACCESS_KEY" 2>&1)"; then
	# Attaching a policy the user already has is an error to mc; anything
	# else is a real failure.
	case "$out" in
	*already* | *Already*) ;;
	*)
		echo "$out" >&2
		exit 1
		;;
	esac
fi
echo "bucket $MINIO_BUCKET ready; user $MINIO_APP_ACCESS_KEY has policy $policy"
