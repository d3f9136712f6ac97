package tencent_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"paradise/internal/speech"
	"paradise/internal/speech/tencent"
	"paradise/internal/speech/tencent/tencenttest"
)

func TestRecognizeAndSynthesize(t *testing.T) {
	fake := tencenttest.New(t)
	c := tencent.New(fake.Config(), http.DefaultClient)
	ctx := context.Background()
	tr, err := c.Recognize(ctx, speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: bytes.Repeat([]byte{1, 2}, 16000)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Text != fake.Transcript || tr.Duration.Milliseconds() != 1000 {
		t.Fatalf("transcript %+v", tr)
	}
	syn, err := c.Synthesize(ctx, speech.SynthesisRequest{Text: "你好", Format: speech.WAV})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(syn.Body)
	if !bytes.Equal(got, tencenttest.Audio("你好")) || syn.Voice != "101001" {
		t.Fatalf("audio %d bytes, voice %s", len(got), syn.Voice)
	}
	if fake.Rejected.Load() != 0 || fake.Calls.Load() != 2 {
		t.Fatalf("calls %d, rejected %d", fake.Calls.Load(), fake.Rejected.Load())
	}
}

func TestErrors(t *testing.T) {
	audio := speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: bytes.Repeat([]byte{1, 2}, 1600)}
	t.Run("bad signature", func(t *testing.T) {
		fake := tencenttest.New(t)
		cfg := fake.Config()
		cfg.SecretKey = "not-the-key"
		_, err := tencent.New(cfg, http.DefaultClient).Recognize(context.Background(), audio)
		var se *speech.Error
		if !errors.As(err, &se) || se.Code != "AuthFailure.SignatureFailure" || se.Kind != speech.KindAuth {
			t.Fatalf("err = %v", err)
		}
		if fake.Rejected.Load() != 1 {
			t.Fatal("the fake did not reject the signature")
		}
		if bytes.Contains([]byte(err.Error()), []byte("not-the-key")) {
			t.Fatal("the error carries the key")
		}
	})
	for _, tc := range []struct {
		action, code string
		kind         speech.Kind
	}{
		{"SentenceRecognition", "RequestLimitExceeded", speech.KindRateLimited},
		{"SentenceRecognition", "InternalError", speech.KindUnavailable},
		{"SentenceRecognition", "FailedOperation.ErrorRecognize", speech.KindBadAudio},
		{"SentenceRecognition", "AuthFailure.SignatureExpire", speech.KindAuth},
		{"TextToVoice", "InvalidParameterValue.InvalidText", speech.KindBadText},
		{"TextToVoice", "InternalError.ExceedMaxLimit", speech.KindRateLimited},
	} {
		t.Run(tc.code, func(t *testing.T) {
			fake := tencenttest.New(t)
			c := tencent.New(fake.Config(), http.DefaultClient)
			fake.FailNext(tc.action, tc.code)
			var err error
			if tc.action == "TextToVoice" {
				_, err = c.Synthesize(context.Background(), speech.SynthesisRequest{Text: "hi", Format: speech.MP3})
			} else {
				_, err = c.Recognize(context.Background(), audio)
			}
			var se *speech.Error
			if !errors.As(err, &se) || se.Kind != tc.kind || se.Code != tc.code {
				t.Fatalf("err = %v, want kind %d", err, tc.kind)
			}
		})
	}
}
