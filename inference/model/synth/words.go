package synth

// demoWords is the demo model's word list: common English words, most
// frequent first, written for this project. Each becomes a "▁word" token
// along with every prefix of it, so SentencePiece-style merging can reach it.
const demoWords = `
the be to of and a in that have I it for not on with he as you do at this but his by
from they we say her she or an will my one all would there their what so up out if about
who get which go me when make can like time no just him know take people into year your
good some could them see other than then now look only come its over think also back after
use two how our work first well way even new want because any these give day most us is
are was were has had been did said made went came got saw knew took gave found told asked
hello hi yes thanks thank please sorry okay sure great nice fine happy glad welcome friend
friends help here where why very much many more less little big small long short old young
home house room door window table chair bed book story word name place world life hand eye
head face heart mind water food tea coffee bread cake apple fruit milk sun moon star sky
rain snow wind tree flower garden park river sea road city town school class teacher child
children boy girl man woman mother father sister brother family dog cat bird fish horse
red blue green yellow white black morning night today tomorrow yesterday week month always
never often sometimes again still already soon later before next last every each both few
own same different right left high low early late hot cold warm cool fast slow hard easy
best better love like play run walk talk read write sing dance sleep eat drink open close
start stop begin end find keep let put seem feel try leave call need ask show move live
believe bring happen stand sit lose pay meet include continue set learn change lead
understand watch follow create speak spend grow offer remember consider appear buy wait
serve die send expect build stay fall cut reach kill remain suggest raise pass sell
require report decide pull
question answer idea problem reason way thing something nothing everything anything
someone everyone together around between under above through during without within
across behind beside near far once upon there was little smile laugh cry ready
chat message reply model demo random weights real point corral user assistant system
. , ! ? ' " : ; - ( ) 0 1 2 3 4 5 6 7 8 9
`

// demoCapitalised are words that also get a capitalised token, since they
// often start a sentence.
const demoCapitalised = `the i it he she they we you this that there what when where why how
hello hi yes no thanks please sorry okay once one my our your a an and but so then`
