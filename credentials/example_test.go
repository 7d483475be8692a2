package credentials_test

import (
	"context"
	"fmt"

	"github.com/amtkit/amtkit/credentials"
)

// A resolver falls back from the default profile to the others, learns the
// one that worked, and goes straight to it the next time.
func ExampleResolver() {
	ctx := context.Background()
	store := credentials.NewMemoryStore()
	defer store.Close()
	_ = store.PutProfile(ctx, credentials.Profile{Name: "corp", Default: true, Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: {User: "admin", Password: "corp-password"},
	}})
	_ = store.PutProfile(ctx, credentials.Profile{Name: "branch", Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: {User: "admin", Password: "branch-password"},
	}})

	r, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true))
	if err != nil {
		panic(err)
	}
	// login stands for a device client's first call; this device takes the
	// branch password.
	login := func(ctx context.Context, c credentials.Credential) error {
		if c.Password != "branch-password" {
			return fmt.Errorf("401: %w", credentials.ErrAuthFailed)
		}
		return nil
	}

	for run := 1; run <= 2; run++ {
		used, attempts, err := r.Resolve(ctx, "192.0.2.10", login)
		if err != nil {
			panic(err)
		}
		fmt.Printf("run %d: logged in as %v from %s %q\n", run, used.Credential, used.Origin, used.Profile)
		for _, a := range attempts {
			fmt.Println("  ", a)
		}
	}
	// Output:
	// run 1: logged in as credentials.Credential{User:"admin", Password:[redacted]} from other "branch"
	//    default "corp": auth_failed: 401: authentication failed
	//    other "branch": succeeded
	// run 2: logged in as credentials.Credential{User:"admin", Password:[redacted]} from runtime "branch"
	//    runtime "branch": succeeded
	//    default "corp": not_tried
}
