package pairing

// The photo scope's records: what the server writes when it stores,
// grants and removes photos (server/photos.go, photogc.go, migrate.go).
// The read model (server/readmodel) tails this scope's feed.

// PhotoScope is the scope of the server's photo receipts: one record per
// photo (collection CollPhotos, id = its SHA-256) written when the server
// has verified and stored the bytes ("stored": true) and changed when
// garbage collection removes them ("stored": false). Every server process
// tails its gap-free feed, so all of them agree on which photos are stored,
// and a visit counts as complete once every photo of its manifest is. Phones
// never receive it.
const PhotoScope = "_photos"

// CollPhotos is the collection of photo receipts.
const CollPhotos = "photos"

// CollPhotoGrants is the collection, in PhotoScope, of the grants that let
// a pairing's citations of a photo open its bytes (a citation alone opens
// nothing, or anyone could cite a photo's hash to read it): one record
// per (pairing, photo), fields "sha256" and "pairing", written when a user
// who sees the pairing stores the photo's bytes, proves they hold them (an
// upload whose bytes hash to it), or could already open the photo. A
// citation alone grants nothing: a hash copied from elsewhere opens no
// bytes.
const CollPhotoGrants = "photo_grants"

// PhotoGrantID is the id of a grant record.
func PhotoGrantID(pairing, sum string) string { return pairing + "_" + sum }

// PhotoReceipt is what a photo receipt says.
type PhotoReceipt struct {
	SHA256 string `json:"sha256"`
	Stored bool   `json:"stored"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// CollMigrations is the collection, in PhotoScope, of the records that say
// a one-time migration of the photo scope ran (id: the migration's name),
// committed after what it wrote.
const CollMigrations = "migrations"
