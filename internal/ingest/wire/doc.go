// Package wire is the Segment Spec wire format as Cairn's tracking API accepts it. It owns:
//
//   - the Message type, the limits of the API (MaxEventBytes, MaxBatchSize, …) and Validate;
//   - decoding one message (Decode, DecodeAs) or a batch body (DecodeBatchItems, which drops
//     each invalid item alone and lists it; DecodeBatch, which fails on the first): a fast path
//     for well-formed bodies (fastdecode.go) and encoding/json's path for the rest, which reports
//     errors as *ValidationError naming the field ("batch[3].event");
//   - reading JSON objects kept as text (objects.go): a message's context, properties, traits
//     and integrations are not decoded into maps, and package ingest reads the few members it
//     needs with EachMember.
//
// It knows nothing of HTTP, the database or identities: normalising a message and storing it
// is package ingest.
package wire
