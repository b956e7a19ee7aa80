package traffic

import "github.com/reftrail/reftrail/internal/event"

// Business accounts the demo subscribes to: three Instagram accounts and two
// Facebook Pages. Placeholders shaped like Meta's ids, fixed across seeds:
// the demo is one business, whatever traffic it gets.
var (
	instagramAccounts = []string{"17841400000000101", "17841400000000102", "17841400000000103"}
	messengerPages    = []string{"100000000000101", "100000000000102"}
)

// instagramShare is the fraction of participants on Instagram; the rest are on
// Messenger.
const instagramShare = 0.55

// source is how a referral reached Meta, which decides its JSON shape.
type source uint8

const (
	sourceShortlink  source = iota // ig.me or m.me link, QR code
	sourceAds                      // click-to-message ad: ad_id, ads_context_data
	sourceChatPlugin               // website chat plugin: referer_uri, guests
)

// carrier is the messaging item a referral arrives in.
type carrier uint8

const (
	// carrierStandalone is a messaging_referrals item: the thread existed.
	carrierStandalone carrier = iota
	// carrierPostback is an Icebreaker tap (Instagram) or Get Started
	// (Messenger) that opened a new thread.
	carrierPostback
	// carrierMessage is the first message of a new thread.
	carrierMessage
	// carrierOptin is an m.me/rn opt-in carrying the ref.
	carrierOptin
)

// opensThread reports whether the carrier is the person's first interaction
// in a new thread, which is itself a conversation (the person wrote or
// tapped).
func (c carrier) opensThread() bool {
	return c == carrierPostback || c == carrierMessage
}

// campaign is one ref and how the people it brings behave. The rates are the
// script's probabilities, not the expected funnel: Expected counts what the
// script actually produced.
type campaign struct {
	ref    string
	source source
	adID   string // ads only
	// instagram and messenger say where the campaign runs.
	instagram, messenger bool
	// carriers are the arrival forms of a referral followed by a
	// conversation; a referral without one arrives standalone or as an opt-in
	// (Meta says nothing about a new thread until the person writes).
	carriers []carrier
	weight   int
	// converse is the chance the person writes within 24 h of the referral,
	// answer that the business replies within 24 h once they have, and
	// comeBack that the person writes again after a day and within a week.
	converse, answer, comeBack float64
}

// campaigns are the demo's refs, with deliberately different conversion
// rates so that the funnel and attribution dashboards have something to
// show.
var campaigns = []campaign{
	{
		ref: "spring_sale_qr", source: sourceShortlink, instagram: true, messenger: true,
		carriers: []carrier{carrierMessage, carrierPostback, carrierStandalone},
		weight:   25, converse: 0.55, answer: 0.8, comeBack: 0.3,
	},
	{
		ref: "bio_link", source: sourceShortlink, instagram: true,
		carriers: []carrier{carrierMessage, carrierPostback, carrierStandalone},
		weight:   20, converse: 0.4, answer: 0.7, comeBack: 0.2,
	},
	{
		ref: "packaging_insert", source: sourceShortlink, instagram: true, messenger: true,
		carriers: []carrier{carrierMessage, carrierPostback, carrierStandalone},
		weight:   15, converse: 0.8, answer: 0.9, comeBack: 0.5,
	},
	{
		ref: "newsletter_nov", source: sourceShortlink, instagram: true, messenger: true,
		carriers: []carrier{carrierOptin, carrierStandalone, carrierPostback},
		weight:   15, converse: 0.2, answer: 0.6, comeBack: 0.15,
	},
	{
		ref: "ad_winter_boots", source: sourceAds, adID: "120200000000000101", instagram: true, messenger: true,
		carriers: []carrier{carrierMessage, carrierStandalone},
		weight:   20, converse: 0.5, answer: 0.85, comeBack: 0.25,
	},
	{
		ref: "site_chat", source: sourceChatPlugin, messenger: true,
		carriers: []carrier{carrierStandalone},
		weight:   15, converse: 0.65, answer: 0.95, comeBack: 0.1,
	},
}

// runsOn reports whether the campaign runs on platform.
func (c *campaign) runsOn(platform event.Platform) bool {
	if platform == event.Instagram {
		return c.instagram
	}
	return c.messenger
}

// Fixed texts. They are generic on purpose: no real names or personal data.
// Non-ASCII text is escaped as \uXXXX in the JSON, as Meta does before
// signing.
var (
	personTexts = []string{
		"hi, is this in stock?",
		"do you ship to my country?",
		"what sizes do you have?",
		"can I still use the code?",
		"how long does delivery take?",
		"thanks!",
		"ok, thank you ❤",
	}
	businessTexts = []string{
		"Hi! Yes, it is in stock.",
		"Thanks for your message, an agent will reply shortly.",
		"Here is your code: DEMO10",
		"Delivery takes 2-4 working days.",
	}
	// icebreakers are Instagram's conversation starters: title, payload.
	icebreakers = [][2]string{
		{"What sizes do you have?", "ICEBREAKER_SIZES"},
		{"Is there a discount?", "ICEBREAKER_DISCOUNT"},
	}
	// chatPluginPages are the website pages the chat plugin runs on.
	chatPluginPages = []string{
		"https://www.example.com/pricing",
		"https://www.example.com/boots",
		"https://www.example.com/help",
	}
)
